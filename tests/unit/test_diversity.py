from airad.reports.diversity import draft_diversity, model_families


def test_model_families_from_library_class_names():
    code = "from sklearn.ensemble import RandomForestClassifier\nimport lightgbm as lgb\nm = lgb.LGBMClassifier()"
    assert model_families(code) == {"random_forest", "lightgbm"}
    assert model_families("from sklearn.svm import SVC\nSVC()") == {"svm"}
    assert model_families("print('no model')") == frozenset()


def test_draft_diversity_counts_families_and_plan_distance():
    same = draft_diversity([("random forest on raw features", "RandomForestClassifier()")] * 3)
    assert same.drafts == 3 and same.families == 1 and same.plan_distance == 0.0
    varied = draft_diversity([
        ("random forest on raw features", "RandomForestClassifier()"),
        ("logistic regression with scaling", "LogisticRegression()"),
        ("gradient boosting with target encoding", "HistGradientBoostingClassifier()"),
    ])
    assert varied.families == 3 and varied.plan_distance > 0.7
    assert draft_diversity([]).drafts == 0
