from datetime import timedelta

from django import forms
from django.forms import inlineformset_factory

from onehand.people import display_name

from .models import CoverageWindow, Rotation
from .selectors import team_people


class DraftForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[
            ("greedy", "Fast (greedy + repair)"),
            ("exact", "Fairest possible (exact optimiser, slower)"),
        ],
        initial="greedy",
    )
    weekend_weight = forms.DecimalField(
        min_value=1,
        max_value=5,
        decimal_places=2,
        required=False,
        help_text="How much a weekend hour counts (default: the rotation's).",
    )
    holiday_weight = forms.DecimalField(min_value=1, max_value=5, decimal_places=2, required=False)
    min_rest_hours = forms.IntegerField(min_value=0, max_value=24 * 14, required=False)
    half_life_days = forms.IntegerField(
        min_value=7, max_value=3650, required=False, help_text="How fast past load is forgotten."
    )

    def __init__(self, *args, rotation=None, **kwargs):
        super().__init__(*args, **kwargs)
        if rotation is None:
            return
        # Say the value a blank field stands for, not just "the rotation's".
        defaults = {
            "weekend_weight": f"{float(rotation.weekend_weight):g}× (this rotation's setting)",
            "holiday_weight": f"{float(rotation.holiday_weight):g}× (this rotation's setting)",
            "min_rest_hours": f"{rotation.min_rest_hours} h (this rotation's setting)",
            "half_life_days": f"{rotation.history_half_life_days} days (this rotation's setting)",
        }
        texts = {
            "weekend_weight": "How much a weekend hour counts.",
            "holiday_weight": "How much a public-holiday hour counts.",
            "min_rest_hours": "Rest required between two shifts of one person.",
            "half_life_days": "How fast past load is forgotten.",
        }
        for name, default in defaults.items():
            if default:
                self.fields[name].help_text = f"{texts[name]} Blank: {default}."
                self.fields[name].widget.attrs["placeholder"] = default.split(" ")[0]

    def overrides(self) -> dict:
        data = self.cleaned_data
        out = {}
        if data.get("weekend_weight") is not None:
            out["weekend_weight"] = float(data["weekend_weight"])
        if data.get("holiday_weight") is not None:
            out["holiday_weight"] = float(data["holiday_weight"])
        if data.get("min_rest_hours") is not None:
            out["min_rest"] = timedelta(hours=data["min_rest_hours"])
        if data.get("half_life_days") is not None:
            out["half_life_days"] = data["half_life_days"]
        return out


class AssignForm(forms.Form):
    # Empty means "nobody"; a number must be a real id (a database integer, never 0 or less).
    assignee = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    override = forms.BooleanField(required=False)
    note = forms.CharField(max_length=200, required=False)


class TeamSettingsForm(forms.Form):
    max_oncall_share = forms.IntegerField(
        min_value=1,
        max_value=100,
        label="Largest share of a period one person may be on call (%)",
        help_text="Primary and secondary hours over the period's hours; default 30%. A rotation "
        "with a secondary needs at least 7 people to stay under 30%.",
    )


class HistoryImportForm(forms.Form):
    file = forms.FileField(
        help_text="CSV with columns: email, rotation, role, start, end (ISO 8601 with offset)."
    )


class RotationForm(forms.ModelForm):
    class Meta:
        model = Rotation
        fields = list(Rotation.SETTINGS_FIELDS)
        widgets = {
            "handoff_time": forms.TimeInput(attrs={"type": "time"}),
            "description": forms.Textarea(attrs={"rows": 2}),
            "handoff_weekday": forms.Select(
                choices=[
                    (i, d)
                    for i, d in enumerate(
                        [
                            "Monday",
                            "Tuesday",
                            "Wednesday",
                            "Thursday",
                            "Friday",
                            "Saturday",
                            "Sunday",
                        ]
                    )
                ]
            ),
        }

    people = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Who takes shifts in this rotation.",
    )

    def __init__(self, *args, team=None, **kwargs):
        super().__init__(*args, **kwargs)
        members = team_people(team_id=team.pk).order_by("first_name", "username")
        self.fields["lead"].queryset = members
        self.fields["mentor"].queryset = members
        self.fields["people"].queryset = members
        for name in ("lead", "mentor", "people"):
            # Names as people read them everywhere else, not usernames.
            self.fields[name].label_from_instance = display_name
        if self.instance.pk:
            self.fields["people"].initial = list(
                self.instance.rotation_members.values_list("user_id", flat=True)
            )
        for name in self.KEEP_WHEN_LEFT_OUT:
            self.fields[name].required = False

    # Issue 16's settings: a form posted without them (an older page) keeps what is stored.
    KEEP_WHEN_LEFT_OUT = (
        "level_shadow_shifts",
        "level_secondary_shifts",
        "level_primary_ready_shifts",
        "level_first_primaries_paired",
        "pairing",
        "pairing_weight",
        "bus_factor_warning",
    )

    def clean(self):
        data = super().clean()
        for name in self.KEEP_WHEN_LEFT_OUT:
            if data.get(name) in (None, ""):
                data[name] = getattr(self.instance, name)
        return data


def window_formset(data=None, instance=None):
    formset_class = inlineformset_factory(
        Rotation,
        CoverageWindow,
        fields=["label", "time_zone", "start", "end"],
        extra=3 if instance is None or not instance.pk or not instance.windows.exists() else 1,
        can_delete=True,
        widgets={
            "start": forms.TimeInput(attrs={"type": "time"}),
            "end": forms.TimeInput(attrs={"type": "time"}),
        },
    )
    return formset_class(data, instance=instance, prefix="windows")
