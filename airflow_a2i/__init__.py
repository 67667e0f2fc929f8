"""Apache Airflow provider for Amazon Augmented AI (A2I) human review."""

from __future__ import annotations

__version__ = "0.1.0"


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
                "integration-name": "Amazon Augmented AI (A2I)",
                "external-doc-url": "https://docs.aws.amazon.com/sagemaker/latest/dg/a2i-use-augmented-ai-a2i-human-review-loops.html",
                "tags": ["aws"],
            }
        ],
        # The API server shows a task's extra links only for link classes its providers register.
        "extra-links": [
            "airflow_a2i.links.a2i.A2IHumanLoopLink",
            "airflow_a2i.links.a2i.A2IPortalLink",
        ],
    }
