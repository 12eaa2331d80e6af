"""Functions that the executor tests send to worker processes (importable there by name)."""
import os
import time


def square(config):
    from minidl.lab.threads import thread_info

    return {"x": config["x"] ** 2, "pid": os.getpid(), "threads": thread_info()}


def die_once(config):
    """Kills its worker the first time (a marker file remembers), succeeds the second."""
    if not os.path.exists(config["marker"]):
        open(config["marker"], "w").close()
        os._exit(3)
    return "survived"


def always_die(config):
    os._exit(4)


def raise_error(config):
    raise ValueError("no such thing")


def sleep(config):
    time.sleep(config["seconds"])
    return config["seconds"]
