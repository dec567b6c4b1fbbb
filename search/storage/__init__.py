"""The index folder on disk: generations, the CURRENT pointer, leases, the writer lock
and the manifest that says what built a generation."""
