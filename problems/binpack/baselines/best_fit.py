"""Best fit: the bin the item fills most tightly (least room left after it)."""


def priority(item, bins):
    return -(bins - item)
