"""A deliberately injectable view: the planted flaw that proves
`scripts/security.sh --planted` (sqlmap) can fail.

Mounted only with the test settings or an explicit PLANTED_FLAW=1 (see
cloudexpress/urls.py); never imported by the product's own code.
"""

from __future__ import annotations

from django.db import connection
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class PlantedLookupView(APIView):
    """Count users by e-mail, with the query built by string formatting:
    exactly the mistake the scanners must catch."""

    permission_classes = [AllowAny]
    throttle_classes: list[type] = []

    def get(self, request: Request) -> Response:
        email = request.query_params.get("email", "")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM accounts_user WHERE email = '{email}'")
            (count,) = cursor.fetchone()
        return Response({"matches": count})
