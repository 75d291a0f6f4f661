"""Migration rehearsal: one data set through two binding sets, every number compared.

``streamkit rehearse --from local --to aws`` replays the same input into each
side's bus, runs the same stream job on each, and diffs minute KPIs (latency
aside), closed sessions and archived row counts. Zero differences is the pass.
"""
