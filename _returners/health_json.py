"""
Return health summaries (``health-check/v1``, see ``_utils/health_report.py``) as files.

For every summary in a job's return (``health.check``, or a state run with ``health.passing``)
it writes ``<base>/<run_id>/<host>.json``, regenerates ``<base>/<run_id>/summary.md`` and
``<base>/LATEST_RUN.txt`` (see ``_utils/health_report.py``); on the checked host itself it also
keeps the host-side copy ``<host_dir>/<host>.json``. Returns of other jobs are ignored.

Options (minion or master config, a minion's pillar, or ``--return_kwargs`` of a master's job),
both by default ``DEFAULT_DIR`` of ``_utils/health_report.py``::

    health_json.base: /srv/health/runs
    health_json.host_dir: /srv/health

A summary that cannot be written is never dropped: the error names the path, the summary goes to
``<cachedir>/health_json-undelivered/<run_id>/<host>.json`` and the returner raises (under
salt-call, the exit code turns non-zero; under salt-ssh, the logged error is the signal).

As ``master_job_cache`` (salt-ssh on the operator side, or a master) it gives every job-cache
function of ``local_cache`` and stores each return there too, so salt-ssh runs leave the operator
side's artifacts while ``jobs.lookup_jid`` keeps working. Returns of functions that return pillar
data (``pillar.*``, ``config.*``, the rendered states of ``state.show_*``, ``slsutil.renderer``)
are stored as a placeholder: the job cache never holds decrypted secrets.

CLI Example:

.. code-block:: bash

    salt-call health.check --return health_json
    salt '*' state.apply ops.health_check --return health_json
"""

import json
import logging
import os

import salt.loader
import salt.returners
import salt.utils.platform
from salt.exceptions import CommandExecutionError

log = logging.getLogger(__name__)

__virtualname__ = "health_json"


def __virtual__():
    if salt.utils.platform.is_windows():
        return False, "health_json needs flock and atomic rename (POSIX)"
    return __virtualname__


def _cached(key, make):
    # Loaders are costly to build; the job cache functions are called many times per run.
    if key not in __context__:
        __context__[key] = make()
    return __context__[key]


def _report(fun):
    utils = _cached("health_json.utils", lambda: salt.loader.utils(__opts__, whitelist=["health_report"]))
    return utils[f"health_report.{fun}"]


def _local_cache(fun):
    cache = _cached("health_json.local_cache",
                    lambda: salt.loader.returners(__opts__, {}, whitelist=["local_cache"]))
    return cache[f"local_cache.{fun}"]


def _is_job_cache():
    return __opts__.get("__role") == "master" and __opts__.get("master_job_cache") == __virtualname__


def _undeliverable(summary, target, exc):
    """Log why *summary* could not be written to *target*, keep it under cachedir, and return the
    exception for the caller to raise."""
    name = f"{summary.get('host')}.json"
    try:
        run = _report("run_dir_name")(summary)
    except ValueError:
        run = "invalid-run-id"  # never a path built from it
    fallback = os.path.join(__opts__["cachedir"], "health_json-undelivered", run)
    try:
        kept = _report("write_host_copy")(fallback, summary)
        log.error("health_json: could not write %s: %s; the summary is kept in %s", target, exc, kept)
        return CommandExecutionError(f"health summary not written to {target}: {exc}; kept in {kept}")
    except Exception as again:
        # Last resort: the log line carries the whole summary.
        log.error("health_json: could not write %s: %s, nor to %s (%s); the summary: %s",
                  target, exc, os.path.join(fallback, name), again, json.dumps(summary))
        return CommandExecutionError(f"health summary not written to {target} ({exc}) nor to {fallback}")


def _deliver(summaries, options):
    """Write each summary; return the first failure (after trying every summary), or None."""
    failure = None
    targets = [("write_run", options["base"])]
    if __opts__.get("__role") == "minion":  # on the checked host itself
        targets.append(("write_host_copy", options["host_dir"]))
    for summary in summaries:
        for fun, directory in targets:
            try:
                written = _report(fun)(directory, summary)
                log.debug("health_json: wrote %s", written)
            except Exception as exc:  # whatever went wrong, the summary must be kept
                failure = failure or _undeliverable(summary, directory, exc)
    return failure


# Functions whose return is or may hold pillar data, decrypted secrets included: the job cache
# keeps that such a job ran, not what it returned. pillar.*; config.* (get and option read
# pillar, items returns the options, salt-ssh's with the whole compiled pillar in them); the
# rendered states of state.show_* (pillar values as state arguments); slsutil.renderer (renders
# any file, a SOPS file decrypted).
UNCACHED_RETURNS = ("pillar.", "config.", "state.show_", "slsutil.renderer")


def _cacheable(ret):
    if not str(ret.get("fun", "")).startswith(UNCACHED_RETURNS):
        return ret
    return {**ret, "return": f"<not cached: {ret.get('fun')} returns pillar data>"}


def returner(ret):
    """
    Write the health summaries in *ret*; as the job cache, also store *ret* in ``local_cache``.

    CLI Example:

    .. code-block:: bash

        salt-call health.check --return health_json
    """
    summaries = _report("find_summaries")(ret.get("return"))
    if not summaries:
        log.debug("health_json: job %s (%s) returned no health summary", ret.get("jid"), ret.get("fun"))
    options = salt.returners.get_returner_options(
        __virtualname__, ret, {"base": "base", "host_dir": "host_dir"},
        __salt__=__salt__, __opts__=__opts__,
        defaults=dict.fromkeys(("base", "host_dir"), _report("default_dir")()))
    try:
        failure = _deliver(summaries, options)
    finally:
        if _is_job_cache():
            _local_cache("returner")(_cacheable(ret))
            # salt-ssh gives its target list to save_load only when the job cache is named
            # local_cache; recording each host that returns keeps the job's minion list complete.
            _local_cache("save_minions")(ret["jid"], [ret["id"]])
    if not failure:
        return
    if __opts__.get("__cli") == "salt-ssh":
        # salt-ssh calls its job cache unguarded inside the loop over hosts: raising would abort
        # the run and lose every other host's return. The ERROR logged on stderr says it there.
        return
    if __opts__.get("__role") == "minion" and ret.get("retcode") == 0:
        # salt-call swallows a returner's exception but reads retcode after its returners ran:
        # this makes its exit code non-zero. (A minion has sent its return already.)
        ret["retcode"] = 1
    raise failure


def _job_cache(fun):
    """A module-level job-cache function that hands its call to ``local_cache.<fun>``."""

    def delegate(*args, **kwargs):
        return _local_cache(fun)(*args, **kwargs)

    delegate.__name__ = delegate.__qualname__ = fun
    delegate.__doc__ = f"""
    Job cache: ``local_cache.{fun}``.

    CLI Example:

    .. code-block:: bash

        salt-run jobs.list_jobs
    """
    return delegate


def save_load(jid, clear_load, minions=None):
    """
    Job cache: ``local_cache.save_load``, once per job. A master saves the load again with every
    return unless its job cache is named local_cache; the published load must stay.

    CLI Example:

    .. code-block:: bash

        salt-run jobs.list_job <jid>
    """
    if not _local_cache("get_load")(jid):
        _local_cache("save_load")(jid, clear_load, minions)


prep_jid = _job_cache("prep_jid")
save_minions = _job_cache("save_minions")
get_load = _job_cache("get_load")
get_jid = _job_cache("get_jid")
get_jids = _job_cache("get_jids")
get_jids_filter = _job_cache("get_jids_filter")
clean_old_jobs = _job_cache("clean_old_jobs")
update_endtime = _job_cache("update_endtime")
get_endtime = _job_cache("get_endtime")
save_reg = _job_cache("save_reg")
load_reg = _job_cache("load_reg")
