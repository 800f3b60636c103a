"""What retention may use of data subject requests, and nothing else: the tables whose retention
the service applies to its own data (verification codes, access packages, requesters' contact
data, the outbox) and the recipients named in the records of processing (Art. 30(1)(d)). The
import contract in setup.cfg allows ``retention`` this module only.
"""

from consent_service.dsar.execution_models import DsarPackage
from consent_service.dsar.request_models import DsarRequest, DsarVerification, OutboxMessage
from consent_service.dsar.task_models import Recipient

__all__ = ["DsarPackage", "DsarRequest", "DsarVerification", "OutboxMessage", "Recipient"]
