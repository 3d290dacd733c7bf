"""need versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('needs', sa.Column('version', sa.Integer(), server_default='1', nullable=False))


def downgrade():
    op.drop_column('needs', 'version')
