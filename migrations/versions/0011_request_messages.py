"""what the person is told: a request's language, refusal ground, repetition index, outbox sealing

- ``dsar_requests.language``: the language the requester asked in (BCP 47 tag as given); NOT
  NULL with the server default ``en`` so requests stored before it read as English, which is
  what they were told (the only texts were English).
- ``dsar_requests.refusal_ground``: the structured ground of a refusal (Art. 12(4)/(5)); not
  personal, so in clear; NULL unless the request was refused.
- ``ix_dsar_requests_repeats`` on (subject_id, type, received_at): the repetition count of
  Art. 12(5) is computed on read, from this index.
- ``outbox.sealed_with``: NULL = under the subject's data key (as before); ``service:<n>`` = under
  a per-message key derived from master key version n (erasure confirmations, which must
  outlive the subject's key).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsar_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), server_default="en", nullable=False))
        batch_op.add_column(sa.Column("refusal_ground", sa.String(length=24), nullable=True))
        batch_op.create_index("ix_dsar_requests_repeats", ["subject_id", "type", "received_at"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_with", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("sealed_with")
    with op.batch_alter_table("dsar_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_dsar_requests_repeats")
        batch_op.drop_column("refusal_ground")
        batch_op.drop_column("language")
