"""A database session store whose rows carry their user, address and agent."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.base import CreateError, UpdateError
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.db import DatabaseError, IntegrityError, router, transaction
from django.utils import timezone

from cloudexpress import requestcontext


class SessionStore(DbSessionStore):
    @classmethod
    def get_model_class(cls) -> Any:
        from accounts.models import UserSession

        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        instance = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        try:
            instance.user_id = int(user_id) if user_id is not None else None
        except (TypeError, ValueError):
            instance.user_id = None
        context = requestcontext.current()
        if context is not None:
            instance.ip = context.ip
            instance.user_agent = context.user_agent
        instance.last_seen_at = timezone.now()
        return instance

    _UPDATED_FIELDS = ("session_data", "expire_date", "user", "ip", "user_agent", "last_seen_at")

    def save(self, must_create: bool = False) -> None:
        """Save like Django's store, but never rewrite ``created_at``."""
        if self.session_key is None:
            return self.create()
        data = self._get_session(no_load=must_create)
        obj = self.create_model_instance(data)
        using = router.db_for_write(self.model, instance=obj)
        try:
            with transaction.atomic(using=using):
                if must_create:
                    obj.save(force_insert=True, using=using)
                else:
                    obj.save(update_fields=self._UPDATED_FIELDS, using=using)
        except IntegrityError:
            if must_create:
                raise CreateError from None
            raise
        except DatabaseError:
            if not must_create:
                raise UpdateError from None
            raise
        return None
