"""N01 GetLog and TriggerMessage(LogStatusNotification): registration only.

The job, its state and the upload clients (diag/logupload.py,
drivers/upload.py) are imported at the first request and dropped again once no upload runs, so the heap a station keeps
between log uploads is this module's.
"""
import sys

_JOB = ("diag.logupload", "drivers.upload")


def attach(station):
    async def job(req=None):
        """GetLog(req), or the trigger (no req); then unload unless an upload runs."""
        from diag import logupload
        r = await logupload.get_log(station, req)
        g = station.getlog        # None: an upload ended meanwhile and unloaded the job
        if g is None or g[0] is None or g[0].done():    # g[0]: the upload's task (logupload._TASK)
            unload(station)
        return r

    station.session.on("GetLog", job)
    station.session.triggers["LogStatusNotification"] = job


def unload(station, names=_JOB):
    """Forget the job's state and modules (no upload runs): the next request
    imports them again. With no station, only drop the modules `names`."""
    if station and station.getlog is not None:
        # Back to Station.getlog (None): no attribute slot kept. Set to None first: a
        # MicroPython map keeps a deleted entry's value, which would hold the job's state.
        station.getlog = None
        del station.getlog
    for name in names:
        if sys.modules.pop(name, None) is not None:
            pkg, _, mod = name.partition(".")
            p = sys.modules.get(pkg)
            if p is not None and mod in dir(p):
                delattr(p, mod)
