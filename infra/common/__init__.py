"""What the Pulumi programs of infra/aws, infra/gcp and infra/local/pulumi share.

Free of cloud providers (only ``images`` uses the Docker provider): the job's entry script and
the KPI probe are uploaded as they are, and the settings helpers are imported by the tests.
"""
