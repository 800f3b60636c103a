"""What may be erased, and erasing it: legal holds (``holds``: data that must be kept whatever
retention or an erasure request would do) and crypto-shredding (``shred``: destroying a person's
data key, which appends to the ledger and respects the holds). Data subject requests and
retention both use it; it uses the stores, the ledger and the subjects below it.
"""
