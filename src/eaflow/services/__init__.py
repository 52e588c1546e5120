"""What a person can do or see, written once: the API (`eaflow.api`) and the pages (`eaflow.web`)
both call these functions, never each other.

Each service takes the settings, the signed-in user and, when the journey's workflow is involved,
the Temporal client; it returns plain data (dicts ready for JSON or a template) or raises a
`Refusal` (eaflow.services.refusals), which the API turns into problem+json and a page into the
same French message beside its field.
"""
