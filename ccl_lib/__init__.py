"""ccl_lib: membership inference attacks, defenses and the Convex-Concave Loss.

Reference implementation for Liu et al., "Mitigating Privacy Risk in Membership
Inference by Convex-Concave Loss" (ICML 2024).
"""

__version__ = "0.1.0"
