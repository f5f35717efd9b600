"""users.disabled_at: an operator can disable an account

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 07:10:00
"""

import sqlalchemy as sa
from alembic import op

import genova.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", genova.models.UTCDateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("disabled_at")
