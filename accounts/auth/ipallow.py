"""Per-organization IP allowlists and country restrictions (at sign-in and
when acting in an organization).

A request acts in an organization when it names one (the ``X-Organization``
header, or the organization of the API key that authenticated it). The
client address is the one from ``cloudexpress.clientip``; an organization
without entries is reachable from anywhere.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from django.core.cache import cache

from accounts.models import IpAllowlistEntry, Membership, Organization, OrganizationAccessPolicy
from audit.models import SecurityEvent
from audit.services import security_event_record

logger = logging.getLogger(__name__)

_CACHE_SECONDS = 30
ORGANIZATION_HEADER = "X-Organization"


def _cache_key(organization_id: int) -> str:
    return f"orgaccess:{organization_id}"


def access_rules(organization_id: int) -> tuple[list[str], list[str]]:
    """The organization's ranges and blocked countries, in one cache read.

    Cached briefly; every change through this module clears the entry.
    """
    cached = cache.get(_cache_key(organization_id))
    if cached is not None:
        return list(cached[0]), list(cached[1])
    ranges = list(
        IpAllowlistEntry.objects.filter(organization_id=organization_id).values_list(
            "cidr", flat=True
        )
    )
    policy = OrganizationAccessPolicy.objects.filter(organization_id=organization_id).first()
    blocked = [str(code).upper() for code in (policy.blocked_countries if policy else [])]
    cache.set(_cache_key(organization_id), (ranges, blocked), _CACHE_SECONDS)
    return ranges, blocked


def allowlist_networks(organization_id: int) -> list[str]:
    return access_rules(organization_id)[0]


def ip_is_allowed(organization_id: int, ip: str, ranges: list[str] | None = None) -> bool:
    ranges = allowlist_networks(organization_id) if ranges is None else ranges
    if not ranges:
        return True
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for cidr in ranges:
        network = ipaddress.ip_network(cidr, strict=False)
        if address.version == network.version and address in network:
            return True
    return False


def blocked_countries(organization_id: int) -> list[str]:
    return access_rules(organization_id)[1]


def ip_access_check(*, organization: Organization, ip: str, user: Any, channel: str) -> bool:
    """Whether ``ip`` may act in ``organization``; a refusal is a security event."""
    reason = ""
    ranges, blocked = access_rules(organization.pk)
    if not ip_is_allowed(organization.pk, ip, ranges):
        reason = "allowlist"
    else:
        if blocked:
            from accounts.auth.geo import country_for_ip

            country = country_for_ip(ip)
            if country is not None and country in blocked:
                reason = "country"
    if not reason:
        return True
    security_event_record(
        event_type=SecurityEvent.Type.IP_DENIED,
        target_user=user,
        organization=organization,
        ip=ip,
        detail={"channel": channel, "reason": reason},
    )
    logger.warning("ip_allowlist.denied", extra={"organization_id": organization.pk})
    return False


def sign_in_country_refused(*, user: Any, ip: str, channel: str) -> str | None:
    """The country code when sign-in from ``ip`` is refused for ``user``,
    else None; a refusal is a security event.

    The rule for a member of several organizations: sign-in is refused only
    when EVERY organization the user currently belongs to refuses the
    country, because signing in reaches the organizations that allow it.
    Acting in one organization that refuses it is still refused, per
    organization, by ``ip_access_check``. A user with no current membership
    is refused nowhere (no organization has a say), and an address whose
    country is unknown (private, reserved, not in the database) is not
    refused: the allowlist is the tool to admit known ranges only.
    """
    from accounts.auth.geo import country_for_ip

    memberships = [
        m
        for m in Membership.objects.filter(user_id=user.pk, status=Membership.Status.ACTIVE).only(
            "organization_id", "status", "expires_at"
        )
        if m.is_current()
    ]
    if not memberships:
        return None
    refusing = [blocked_countries(m.organization_id) for m in memberships]
    if not all(refusing):
        return None
    country = country_for_ip(ip)
    if country is None or not all(country in blocked for blocked in refusing):
        return None
    security_event_record(
        event_type=SecurityEvent.Type.IP_DENIED,
        target_user=user,
        ip=ip,
        detail={
            "channel": channel,
            "reason": "country",
            "stage": "sign_in",
            "country": country,
            "organizations": len(memberships),
        },
    )
    logger.warning("sign_in.country_refused", extra={"user_id": user.pk, "channel": channel})
    return country


SIGN_IN_REFUSED_MESSAGE = (
    "Signing in from your current country ({country}) is refused by the security policy "
    "of your organization. Ask its administrator if you need access from here."
)


def access_policy_set_blocked_countries(
    *, organization: Organization, countries: list[str], actor: Any
) -> OrganizationAccessPolicy:
    codes = sorted({c.strip().upper() for c in countries if len(c.strip()) == 2})
    policy, _ = OrganizationAccessPolicy.objects.update_or_create(
        organization=organization, defaults={"blocked_countries": codes}
    )
    cache.delete(_cache_key(organization.pk))
    security_event_record(
        event_type=SecurityEvent.Type.SETTINGS_CHANGED,
        actor=actor,
        organization=organization,
        detail={"setting": "blocked_countries", "countries": codes},
    )
    return policy


class AllowlistLockoutError(ValueError):
    """The change would lock out the admin making it."""


def allowlist_entry_add(
    *, organization: Organization, cidr: str, actor: Any, actor_ip: str, confirm: bool = False
) -> IpAllowlistEntry:
    """Add a range; refuse (unless confirmed) when the admin's own address
    would fall outside the resulting allowlist."""
    network = ipaddress.ip_network(cidr.strip(), strict=False)
    ranges = [*allowlist_networks(organization.pk), str(network)]
    address = ipaddress.ip_address(actor_ip)
    inside = any(
        address.version == ipaddress.ip_network(r).version and address in ipaddress.ip_network(r)
        for r in ranges
    )
    if not inside and not confirm:
        raise AllowlistLockoutError(
            "Your current address would be outside the allowlist: confirm to proceed."
        )
    entry, _ = IpAllowlistEntry.objects.get_or_create(
        organization=organization, cidr=str(network), defaults={"created_by": actor}
    )
    cache.delete(_cache_key(organization.pk))
    security_event_record(
        event_type=SecurityEvent.Type.SETTINGS_CHANGED,
        actor=actor,
        organization=organization,
        detail={"setting": "ip_allowlist", "added": str(network), "self_outside": not inside},
    )
    return entry


def allowlist_entry_remove(*, entry: IpAllowlistEntry, actor: Any) -> None:
    organization_id = entry.organization_id
    cidr = entry.cidr
    entry.delete()
    cache.delete(_cache_key(organization_id))
    security_event_record(
        event_type=SecurityEvent.Type.SETTINGS_CHANGED,
        actor=actor,
        organization=organization_id,
        detail={"setting": "ip_allowlist", "removed": cidr},
    )


def organization_named(request: Any) -> Organization | None:
    """The organization the request names in its header (slug or public id)."""
    raw = (request.headers.get(ORGANIZATION_HEADER) or "").strip()
    if not raw:
        return None
    query = Organization.objects.filter(slug=raw)
    if len(raw) == 36 and raw.count("-") == 4:
        query = Organization.objects.filter(public_id=raw)
    return query.first()


def membership_current(*, user: Any, organization_id: int) -> Membership | None:
    membership = (
        Membership.objects.select_related("role")
        .filter(user_id=user.pk, organization_id=organization_id)
        .first()
    )
    if membership is None or not membership.is_current():
        return None
    return membership
