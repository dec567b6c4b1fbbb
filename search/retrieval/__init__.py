"""From a request to a result page: filters, fusion, spelling, paging, facets, hits."""
