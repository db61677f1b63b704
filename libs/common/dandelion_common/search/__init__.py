"""Search shared by the indexer (dandelion_search) and the queriers (search API, DANDI API).

Services may not import each other, so everything both sides need lives here: the query and
row schemas, text folding, the NWB type hierarchy, errors and the backends.
"""
