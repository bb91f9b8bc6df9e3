"""``python -m custom_ops``: the claimed converter versions, as entries of :data:`pipeline.custom_versions.CUSTOM`."""

from custom_ops import claimed_versions

for (domain, op), versions in claimed_versions().items():
    print(f"    ({domain!r}, {op!r}): {versions!r},")
