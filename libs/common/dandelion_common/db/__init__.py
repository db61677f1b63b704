"""Database: declarative models, async engine/session handling and the alembic history."""
