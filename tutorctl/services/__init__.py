"""Services: each takes the transaction (``Tx``) first, reads, checks, writes, never commits."""
