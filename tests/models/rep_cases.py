"""Cases shared by the re-parameterization tests of tests/models (both training forms of Rep-Mobile)."""
from __future__ import annotations

import itertools

from asc.models.reparam import CONV_BRANCHES

# every non-empty set of convolution branches, with and without the identity branch
BRANCH_SETS = [list(convs) + extra
               for n in range(1, len(CONV_BRANCHES) + 1)
               for convs in itertools.combinations(CONV_BRANCHES, n)
               for extra in ([], ["identity"])]

# one of each kind of block: plain shortcut, strided shortcut (pooling), no shortcut, both strides
SMALL = dict(stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[2, 3],
             strides=[[1, 1], [2, 2], [1, 2], [2, 1], [1, 1]], expansion_rate=1.5)
