"""Baseline: each number, in the given order, to the side with the smaller sum."""


def partition(numbers):
    sums = [0, 0]
    sides = []
    for x in numbers:
        side = 0 if sums[0] <= sums[1] else 1
        sides.append(side)
        sums[side] += int(x)
    return sides
