"""Two optimizers written from scratch on minidl's base class: sign descent and Lion."""
from minidl import backend as B
from minidl.optim import Optimizer, check_lr, check_range


class SignSGD(Optimizer):
    """Sign descent with momentum (signSGD / Signum, Bernstein et al. 2018, arXiv:1802.04434).

    Rule (paper):

        m_t = beta * m_{t-1} + (1 - beta) * g_t
        w_t = w_{t-1} - lr * sign(m_t)
    """
    DEFAULTS = {"paper": {"lr": 0.01, "beta": 0.9}}

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta"], "beta", 0, 1)

    def init_state(self, w, group):
        return {"m": B.get_array_module(w).zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        m = state["m"]
        m *= group["beta"]
        m += (1 - group["beta"]) * g
        w -= group["lr"] * xp.sign(m)


class Lion(Optimizer):
    """Lion (Chen et al. 2023, arXiv:2302.06675, Algorithm 2).

    Rule (paper):

        c_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        w_t = w_{t-1} - lr * sign(c_t)
        m_t = beta2 * m_{t-1} + (1 - beta2) * g_t
    """
    DEFAULTS = {"paper": {"lr": 0.0001, "beta1": 0.9, "beta2": 0.99}}
    DECOUPLED_WEIGHT_DECAY = True        # w_decayed = w_{t-1} * (1 - lr * weight_decay), as the paper

    def validate(self, group):
        check_lr(group["lr"])
        check_range(group["beta1"], "beta1", 0, 1, low_open=True)
        check_range(group["beta2"], "beta2", 0, 1)

    def init_state(self, w, group):
        return {"m": B.get_array_module(w).zeros_like(w)}

    def update(self, w, g, state, group):
        xp = B.get_array_module(w)
        m = state["m"]
        c = group["beta1"] * m + (1 - group["beta1"]) * g
        w -= group["lr"] * xp.sign(c)
        m *= group["beta2"]
        m += (1 - group["beta2"]) * g
