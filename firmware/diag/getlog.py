"""N01 GetLog and TriggerMessage(LogStatusNotification): registration only.

The job, its state and the upload clients (diag/logupload.py,
drivers/upload.py: about 17 kB of heap as .mpy) are imported at the first
request and dropped again once no upload runs, so the heap a station keeps
between log uploads is this module's.
"""
import sys

_JOB = ("diag.logupload", "drivers.upload")


def attach(station):
    station.getlog = None    # the job's state while loaded (diag/logupload.py)

    async def get_log(req):
        from diag import logupload
        g = logupload.get(station)
        r = await g.get_log(req)
        _idle(station, g)         # Rejected: nothing to keep
        return r

    async def trigger():
        from diag import logupload
        g = logupload.get(station)
        await g.trigger()
        _idle(station, g)

    station.session.on("GetLog", get_log)
    station.session.triggers["LogStatusNotification"] = trigger


def _idle(station, g):
    if station.getlog is g and (g.task is None or g.task.done()):
        unload(station)


def unload(station):
    """Forget the job's state and modules (no upload runs): the next request imports them again."""
    station.getlog = None
    for name in _JOB:
        if sys.modules.pop(name, None) is not None:
            pkg, _, mod = name.partition(".")
            p = sys.modules.get(pkg)
            if p is not None and mod in dir(p):
                delattr(p, mod)
