"""Old home of minidl's CPU threads and denormal flushing, now in ``minidl.perf``: re-exported
for code not yet moved over (``minidl.perf.threads``, ``minidl.perf.denormals``)."""
from minidl.perf.denormals import flush as flush_denormals
from minidl.perf.denormals import flushed as denormals_flushed
from minidl.perf.denormals import supported as denormal_flushing_supported
from minidl.perf.threads import num_threads, parallel_map, set_num_threads, split_range, submit

__all__ = ["num_threads", "set_num_threads", "parallel_map", "submit", "split_range",
           "flush_denormals", "denormals_flushed", "denormal_flushing_supported"]
