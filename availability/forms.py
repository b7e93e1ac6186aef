"""Forms parse what people type; they never write (services do)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError

from onehand.dates import parse_month_or_none
from onehand.people import display_name
from rotation.models import SlotRole
from rotation.shifts import local_to_utc

from .models import AvailabilityEntry, DutyRequirement
from .services import CLEAR

KIND_CHOICES = [*AvailabilityEntry.Kind.choices, (CLEAR, "Clear")]
MAX_GRID_DAYS = 62


class MonthField(forms.CharField):
    widget = forms.TextInput(
        attrs={"type": "month", "placeholder": "YYYY-MM", "pattern": r"\d{4}-\d{2}"}
    )

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return None
        month = parse_month_or_none(value)
        if month is None:
            raise ValidationError("Give a month as YYYY-MM, e.g. 2026-12.")
        return month


class DaysForm(forms.Form):
    """A click, drag or keyboard range on the month grid (days in the viewer's zone)."""

    day = forms.DateField(required=False)
    start_day = forms.DateField(required=False)
    end_day = forms.DateField(required=False)
    kind = forms.ChoiceField(choices=KIND_CHOICES, initial=AvailabilityEntry.Kind.UNAVAILABLE)
    reason = forms.CharField(required=False, max_length=200)
    month = MonthField(required=False)

    def clean(self):
        data = super().clean()
        first = data.get("start_day") or data.get("day")
        last = data.get("end_day") or first
        if first is None:
            raise ValidationError("Pick a day.")
        first, last = min(first, last), max(first, last)
        if (last - first).days >= MAX_GRID_DAYS:
            raise ValidationError(f"Mark at most {MAX_GRID_DAYS} days at once.")
        data["first"], data["last"] = first, last
        return data


class EntryForm(forms.Form):
    """The plain (no JavaScript) way to mark a range, part-days included."""

    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Empty: start of the day.",
    )
    end_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end_time = forms.TimeField(
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Empty: end of the day.",
    )
    kind = forms.ChoiceField(choices=KIND_CHOICES, initial=AvailabilityEntry.Kind.UNAVAILABLE)
    reason = forms.CharField(required=False, max_length=200)

    def span(self, time_zone: str) -> tuple[datetime, datetime]:
        tz = ZoneInfo(time_zone)
        data = self.cleaned_data
        start = local_to_utc(data["start_date"], data.get("start_time") or time(0), tz)
        if data.get("end_time") is not None:
            end = local_to_utc(data["end_date"], data["end_time"], tz)
        else:
            end = local_to_utc(data["end_date"] + timedelta(days=1), time(0), tz)
        return start, end

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        start = datetime.combine(data["start_date"], data.get("start_time") or time(0))
        if data.get("end_time") is not None:
            end = datetime.combine(data["end_date"], data["end_time"])
        else:
            end = datetime.combine(data["end_date"] + timedelta(days=1), time(0))
        if end <= start:
            raise ValidationError("The end must be after the start.")
        return data


class CalendarUrlForm(forms.Form):
    url = forms.CharField(
        label="Secret iCal/ICS address",
        max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://…/basic.ics", "autocomplete": "off"}),
    )
    name = forms.CharField(required=False, max_length=120, label="Name (optional)")


class CalendarUploadForm(forms.Form):
    file = forms.FileField(
        label=".ics file", widget=forms.ClearableFileInput(attrs={"accept": ".ics,text/calendar"})
    )


class ClaimForm(forms.Form):
    obtained_on = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), label="Obtained on"
    )
    expires_on = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        label="Expires on (optional)",
        help_text="Empty: worked out from how long the requirement stays valid.",
    )
    evidence = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), label="Evidence"
    )
    evidence_url = forms.URLField(required=False, label="Link to evidence (optional)")


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("verify", "Verify"), ("reject", "Reject")])
    note = forms.CharField(required=False, max_length=300)


class RequirementForm(forms.ModelForm):
    roles = forms.MultipleChoiceField(
        choices=SlotRole.choices,
        widget=forms.CheckboxSelectMultiple,
        label="Needed for",
        help_text="The slot roles someone must meet this for.",
    )

    class Meta:
        model = DutyRequirement
        fields = [
            "name",
            "kind",
            "description",
            "roles",
            "shadow_shifts_needed",
            "how_to_obtain",
            "how_to_url",
            "valid_days",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "how_to_obtain": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].initial = (
            self.instance.roles if self.instance.pk else [SlotRole.PRIMARY]
        )

    def clean(self):
        data = super().clean()
        if data.get("kind") == DutyRequirement.Kind.SHADOW_SHIFTS:
            if not data.get("shadow_shifts_needed"):
                self.add_error("shadow_shifts_needed", "Say how many shadow shifts are needed.")
        else:
            data["shadow_shifts_needed"] = 0
        self.instance.roles = data.get("roles", [])
        return data


class LockForm(forms.Form):
    month = MonthField(label="Month to lock")
    note = forms.CharField(required=False, max_length=200)


class AllocationForm(forms.Form):
    user = forms.TypedChoiceField(coerce=int, label="Person")
    month = MonthField()
    percent = forms.IntegerField(min_value=0, max_value=100, label="Project allocation (%)")
    project = forms.CharField(required=False, max_length=120)

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].choices = [(u.pk, display_name(u)) for u in people]


class TeamSettingsForm(forms.Form):
    engineers_set_allocation = forms.BooleanField(
        required=False, label="Engineers may enter their own project allocation"
    )
