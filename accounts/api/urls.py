"""/api/orgs/...: no trailing slashes, like the rest of the API."""

from django.urls import path

from accounts.api import views

urlpatterns = [
    path("orgs", views.OrganizationListView.as_view(), name="api-orgs"),
    path("orgs/<slug:slug>/members", views.MemberListView.as_view(), name="api-org-members"),
    path(
        "orgs/<slug:slug>/members/<uuid:public_id>",
        views.MemberDetailView.as_view(),
        name="api-org-member",
    ),
    path(
        "orgs/<slug:slug>/members/<uuid:public_id>/remove",
        views.MemberRemoveView.as_view(),
        name="api-org-member-remove",
    ),
    path("orgs/<slug:slug>/roles", views.RoleListView.as_view(), name="api-org-roles"),
    path(
        "orgs/<slug:slug>/roles/<uuid:public_id>",
        views.RoleDetailView.as_view(),
        name="api-org-role",
    ),
    path(
        "orgs/<slug:slug>/invitations",
        views.InvitationListView.as_view(),
        name="api-org-invitations",
    ),
    path(
        "orgs/<slug:slug>/invitations/<uuid:public_id>/revoke",
        views.InvitationRevokeView.as_view(),
        name="api-org-invitation-revoke",
    ),
    path("orgs/<slug:slug>/grants", views.GrantListView.as_view(), name="api-org-grants"),
    path(
        "orgs/<slug:slug>/grants/<uuid:public_id>",
        views.GrantDetailView.as_view(),
        name="api-org-grant",
    ),
    path(
        "users/<uuid:public_id>/terminate",
        views.UserTerminateView.as_view(),
        name="api-user-terminate",
    ),
    path("invitations/accept", views.InvitationAcceptView.as_view(), name="api-invitation-accept"),
    path("orgs/<slug:slug>/approvals", views.ApprovalListView.as_view(), name="api-org-approvals"),
    path(
        "orgs/<slug:slug>/approvals/<uuid:public_id>/approve",
        views.ApprovalApproveView.as_view(),
        name="api-org-approval-approve",
    ),
    path(
        "orgs/<slug:slug>/approvals/<uuid:public_id>/refuse",
        views.ApprovalRefuseView.as_view(),
        name="api-org-approval-refuse",
    ),
    path(
        "orgs/<slug:slug>/access-reviews",
        views.CampaignListView.as_view(),
        name="api-org-access-reviews",
    ),
    path(
        "orgs/<slug:slug>/access-reviews/completion",
        views.CampaignCompletionView.as_view(),
        name="api-org-access-review-completion",
    ),
    path(
        "orgs/<slug:slug>/access-reviews/<uuid:public_id>",
        views.CampaignDetailView.as_view(),
        name="api-org-access-review",
    ),
    path(
        "orgs/<slug:slug>/access-reviews/<uuid:public_id>/items/<uuid:item_id>/decide",
        views.ReviewItemDecideView.as_view(),
        name="api-org-access-review-decide",
    ),
]
