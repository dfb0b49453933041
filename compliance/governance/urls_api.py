"""API routes of the governance registers, included under /api/compliance/.
No trailing slashes, as everywhere in the API."""

from __future__ import annotations

from django.urls import path

from compliance.governance import api

G = "governance/"

urlpatterns = [
    path(f"{G}policies", api.PolicyListView.as_view(), name="api-gov-policies"),
    path(f"{G}policies/<uuid:public_id>", api.PolicyDetailView.as_view(), name="api-gov-policy"),
    path(
        f"{G}policies/<uuid:public_id>/acknowledge",
        api.PolicyAcknowledgeView.as_view(),
        name="api-gov-policy-acknowledge",
    ),
    path(
        f"{G}policy-versions/<uuid:public_id>/approve",
        api.PolicyVersionApproveView.as_view(),
        name="api-gov-policy-version-approve",
    ),
    path(f"{G}training", api.TrainingModuleListView.as_view(), name="api-gov-training"),
    path(
        f"{G}training/<uuid:public_id>/complete",
        api.TrainingCompleteView.as_view(),
        name="api-gov-training-complete",
    ),
    path(f"{G}vendors", api.VendorListView.as_view(), name="api-gov-vendors"),
    path(f"{G}vendors/<uuid:public_id>", api.VendorDetailView.as_view(), name="api-gov-vendor"),
    path(f"{G}disclosures", api.DisclosureListView.as_view(), name="api-gov-disclosures"),
    path(f"{G}risks", api.RiskListView.as_view(), name="api-gov-risks"),
    path(f"{G}risks/heatmap", api.RiskHeatmapView.as_view(), name="api-gov-risk-heatmap"),
    path(f"{G}risks/<uuid:public_id>", api.RiskDetailView.as_view(), name="api-gov-risk"),
    path(
        f"{G}risks/<uuid:public_id>/review",
        api.RiskReviewView.as_view(),
        name="api-gov-risk-review",
    ),
    path(
        f"{G}policies/<uuid:public_id>/review",
        api.PolicyReviewView.as_view(),
        name="api-gov-policy-review",
    ),
    path(
        f"{G}vendors/<uuid:public_id>/assessments",
        api.VendorAssessmentView.as_view(),
        name="api-gov-vendor-assessments",
    ),
    path(f"{G}changes", api.ChangeListView.as_view(), name="api-gov-changes"),
    path(f"{G}changes/<uuid:public_id>", api.ChangeDetailView.as_view(), name="api-gov-change"),
    path(
        f"{G}changes/<uuid:public_id>/approve",
        api.ChangeApproveView.as_view(),
        name="api-gov-change-approve",
    ),
    # The CI/CD hook sits outside governance/: pipelines know it by this path.
    path("changes/deployments", api.DeploymentRecordView.as_view(), name="api-deployments"),
    path(f"{G}continuity/plans", api.DrPlanListView.as_view(), name="api-gov-dr-plans"),
    path(f"{G}audits", api.AuditListView.as_view(), name="api-gov-audits"),
    path(
        f"{G}audits/finding-closure",
        api.FindingClosureKpiView.as_view(),
        name="api-gov-finding-closure",
    ),
    path(
        f"{G}findings/<uuid:public_id>/close",
        api.FindingCloseView.as_view(),
        name="api-gov-finding-close",
    ),
    path(f"{G}walkthroughs", api.WalkthroughListView.as_view(), name="api-gov-walkthroughs"),
]
