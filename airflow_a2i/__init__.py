"""Apache Airflow provider for Amazon Augmented AI (A2I) human review."""

from __future__ import annotations

__version__ = "0.1.0"
INTEGRATION = "Amazon Augmented AI (A2I)"


def get_provider_info() -> dict:
    """Describe this provider to Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

    ``package-name`` must equal the distribution name, or Airflow refuses the provider.
    """
    return {
        "package-name": "airflow-a2i",
        "name": "Amazon Augmented AI (A2I)",
        "description": "Operators, sensors and triggers for Amazon Augmented AI human review loops.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.aws.amazon.com/sagemaker/latest/dg/a2i-use-augmented-ai-a2i-human-review-loops.html",
                "tags": ["aws"],
            }
        ],
        # Listed so that `airflow providers hooks|triggers` and the UI's provider page show them (the hooks use the
        # Amazon provider's `aws` connection type, so they register no connection type of their own).
        "operators": [{"integration-name": INTEGRATION, "python-modules": [
            f"airflow_a2i.operators.{module}" for module in
            ("human_loop", "batch", "flow_definition", "textract", "rekognition", "results", "report", "events")]}],
        "sensors": [{"integration-name": INTEGRATION, "python-modules": [
            "airflow_a2i.sensors.human_loop", "airflow_a2i.sensors.batch"]}],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": [
            "airflow_a2i.hooks.a2i", "airflow_a2i.hooks.textract", "airflow_a2i.hooks.rekognition",
            "airflow_a2i.hooks.events"]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": [
            "airflow_a2i.triggers.human_loop", "airflow_a2i.triggers.batch"]}],
        # The API server shows a task's extra links only for link classes its providers register.
        "extra-links": [
            "airflow_a2i.links.a2i.A2IHumanLoopLink",
            "airflow_a2i.links.a2i.A2IPortalLink",
        ],
    }
