"""subscribe messages: consents and the messages made from them

One acceptance allows one message; one message per donation paid and per donor and expense.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 09:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('subscription_consents',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscription_consents_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_consents'))
    )
    with op.batch_alter_table('subscription_consents', schema=None) as batch_op:
        batch_op.create_index('ix_subscription_consents_unused', ['template_id', 'user_id', 'id'], unique=False, postgresql_where=sa.text('used_at IS NULL'))
        batch_op.create_index('ix_subscription_consents_user_id', ['user_id'], unique=False)

    op.create_table('subscribe_messages',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('donation_paid', 'money_spent', name='message_kind'), nullable=False),
    sa.Column('template_id', sa.String(length=64), nullable=False),
    sa.Column('donation_id', sa.BigInteger(), nullable=False),
    sa.Column('expense_id', sa.Integer(), nullable=True),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('page', sa.String(length=128), nullable=False),
    sa.Column('status', sa.Enum('pending', 'sending', 'sent', 'skipped', 'failed', name='message_status'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('consent_id', sa.BigInteger(), nullable=True),
    sa.Column('msgid', sa.String(length=32), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'money_spent') = (expense_id IS NOT NULL)", name=op.f('ck_subscribe_messages_expense_for_spent')),
    sa.CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name=op.f('ck_subscribe_messages_sent_has_time')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_subscribe_messages_attempts_not_negative')),
    sa.ForeignKeyConstraint(['consent_id'], ['subscription_consents.id'], name=op.f('fk_subscribe_messages_consent_id_subscription_consents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['donation_id'], ['donations.id'], name=op.f('fk_subscribe_messages_donation_id_donations')),
    sa.ForeignKeyConstraint(['expense_id'], ['expenses.id'], name=op.f('fk_subscribe_messages_expense_id_expenses')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_subscribe_messages_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribe_messages')),
    sa.UniqueConstraint('consent_id', name=op.f('uq_subscribe_messages_consent_id')),
    sa.UniqueConstraint('kind', 'donation_id', 'expense_id', name=op.f('uq_subscribe_messages_kind_donation_id_expense_id'), postgresql_nulls_not_distinct=True)
    )
    with op.batch_alter_table('subscribe_messages', schema=None) as batch_op:
        batch_op.create_index('ix_subscribe_messages_due', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status IN ('pending', 'sending')"))
        batch_op.create_index('ix_subscribe_messages_user_id', ['user_id'], unique=False)
        batch_op.create_index('uq_subscribe_messages_spent_user', ['expense_id', 'user_id'], unique=True, postgresql_where=sa.text("kind = 'money_spent'"))



def downgrade():
    with op.batch_alter_table('subscribe_messages', schema=None) as batch_op:
        batch_op.drop_index('uq_subscribe_messages_spent_user', postgresql_where=sa.text("kind = 'money_spent'"))
        batch_op.drop_index('ix_subscribe_messages_user_id')
        batch_op.drop_index('ix_subscribe_messages_due', postgresql_where=sa.text("status IN ('pending', 'sending')"))

    op.drop_table('subscribe_messages')
    with op.batch_alter_table('subscription_consents', schema=None) as batch_op:
        batch_op.drop_index('ix_subscription_consents_user_id')
        batch_op.drop_index('ix_subscription_consents_unused', postgresql_where=sa.text('used_at IS NULL'))

    op.drop_table('subscription_consents')
    sa.Enum(name='message_status').drop(op.get_bind())
    sa.Enum(name='message_kind').drop(op.get_bind())
