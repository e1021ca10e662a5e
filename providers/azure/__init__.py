"""Azure / Entra ID provider: app registrations, service principals, managed identities and their grants.

Only the provider class is imported here; the Azure SDK and httpx clients load inside ``discover``.
"""

from nhiwarden.providers.azure.provider import AzureProvider, AzureSettings

__all__ = ["AzureProvider", "AzureSettings"]
