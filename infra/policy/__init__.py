"""Policy checks over the resources a Pulumi program registers, and the harness that records them.

The harness (:mod:`infra.policy.harness`) runs a program under ``pulumi.runtime.Mocks``, with
no CLI, plugin or cloud account, and records every resource as (type token, name, inputs). The
checks (:mod:`infra.policy.checks`) are plain Python over those records, so they run the same on
the real stacks and on the non-compliant fixtures (:mod:`infra.policy.fixtures`) they must reject.
"""
