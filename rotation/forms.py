from django import forms


class DraftForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[("greedy", "Fast (greedy + repair)"), ("exact", "Fairest possible (exact optimiser, slower)")],
        initial="greedy",
    )
    weekend_weight = forms.DecimalField(min_value=1, max_value=5, decimal_places=2, required=False,
                                        help_text="How much a weekend hour counts (default: the rotation's).")
    holiday_weight = forms.DecimalField(min_value=1, max_value=5, decimal_places=2, required=False)
    min_rest_hours = forms.IntegerField(min_value=0, max_value=24 * 14, required=False)
    half_life_days = forms.IntegerField(min_value=7, max_value=3650, required=False,
                                        help_text="How fast past load is forgotten.")

    def overrides(self) -> dict:
        data = self.cleaned_data
        out = {}
        if data.get("weekend_weight") is not None:
            out["weekend_weight"] = float(data["weekend_weight"])
        if data.get("holiday_weight") is not None:
            out["holiday_weight"] = float(data["holiday_weight"])
        if data.get("min_rest_hours") is not None:
            from datetime import timedelta

            out["min_rest"] = timedelta(hours=data["min_rest_hours"])
        if data.get("half_life_days") is not None:
            out["half_life_days"] = data["half_life_days"]
        return out


class AssignForm(forms.Form):
    assignee = forms.IntegerField(required=False)
    override = forms.BooleanField(required=False)
    note = forms.CharField(max_length=200, required=False)


class HistoryImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with columns: email, rotation, role, start, end (ISO 8601 with offset).")
