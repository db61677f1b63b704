"""`make bench`: Dandelion's numbers beside the peer or the physical limit, as ratios."""
