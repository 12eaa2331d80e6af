"""Weight decay that an optimizer's published rule puts inside the rule.

Under most conventions the base applies ``weight_decay`` before the rule (``weight_decay.py``).
A few published rules decay the weights inside themselves: LAMB (You et al., Algorithm 2) adds
lambda * w to the update before its trust ratio; the Schedule-Free reference decays z at y.
Under those conventions the optimizer reads the user's ``weight_decay`` as its own
hyperparameter ``weight_decay_rate`` (TensorFlow's name for LAMB's lambda), which the rule
uses, and the base's ``weight_decay`` stays 0, so nothing is decayed twice.
"""
from __future__ import annotations

RULE_NAME = "weight_decay_rate"


def routed(convention, conventions, given):
    """``given`` (keyword arguments or a param group dict) with a nonzero ``weight_decay`` renamed
    ``weight_decay_rate`` when ``convention`` is one of ``conventions``; anything else unchanged
    (a ``weight_decay`` of 0, as ``state_dict`` records the base's, stays)."""
    if convention not in conventions or not isinstance(given, dict) or not given.get("weight_decay"):
        return given
    if given.get(RULE_NAME) is not None:
        raise ValueError(f"Invalid weight_decay: {given['weight_decay']!r} beside {RULE_NAME}="
                         f"{given[RULE_NAME]!r} (expected one of them: under the {convention} convention "
                         f"both name the rule's own weight decay)")
    out = {k: v for k, v in given.items() if k != "weight_decay"}
    out[RULE_NAME] = given["weight_decay"]
    return out


def check_base_decay_off(group, convention, conventions, name):
    """Under ``conventions`` the base's ``weight_decay`` must be 0 (the rule decays itself)."""
    if convention in conventions and group["weight_decay"]:
        raise ValueError(f"Invalid weight_decay: {group['weight_decay']!r} in a param group of {name} "
                         f"(expected 0: under the {convention} convention the decay is the rule's own "
                         f"{RULE_NAME})")
