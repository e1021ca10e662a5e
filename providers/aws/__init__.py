"""AWS provider: IAM users, access keys, console passwords and roles, from bulk IAM APIs.

Importing this package must stay cheap: boto3 is imported only inside the modules ``discover`` uses.
"""

from nhiwarden.providers.aws.provider import AwsProvider
from nhiwarden.providers.aws.settings import AwsSettings

__all__ = ["AwsProvider", "AwsSettings"]
