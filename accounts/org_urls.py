"""Organization settings pages, mounted at /orgs/."""

from django.urls import path

from accounts import views

app_name = "orgs"

urlpatterns = [
    path("", views.organization_list, name="list"),
    path("<slug:slug>/", views.organization_overview, name="overview"),
    path("<slug:slug>/members", views.members, name="members"),
    path(
        "<slug:slug>/members/<uuid:public_id>/role",
        views.member_role_change,
        name="member-role",
    ),
    path("<slug:slug>/members/<uuid:public_id>/remove", views.member_remove, name="member-remove"),
    path("<slug:slug>/roles", views.roles, name="roles"),
    path("<slug:slug>/roles/<uuid:public_id>/delete", views.role_delete, name="role-delete"),
    path("<slug:slug>/invitations", views.invitations, name="invitations"),
    path(
        "<slug:slug>/invitations/<uuid:public_id>/revoke",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
    path("<slug:slug>/approvals", views.approvals, name="approvals"),
    path(
        "<slug:slug>/approvals/<uuid:public_id>/decide",
        views.approval_decide,
        name="approval-decide",
    ),
    path("<slug:slug>/reviews", views.reviews, name="reviews"),
    path("<slug:slug>/reviews/<uuid:public_id>", views.review, name="review"),
    path(
        "<slug:slug>/reviews/<uuid:public_id>/items/<uuid:item_id>",
        views.review_item_decide,
        name="review-item",
    ),
]

invitation_patterns = [
    path("<str:token>", views.invitation_accept, name="invitation-accept"),
]
