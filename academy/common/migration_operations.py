"""Migration operations that build a new database faster than Django's own, with the same
result.

Django's ``CreateModel`` renders the new model again together with every model related
to the models it refers to, recursively. Nearly every model refers to a location or a
user, so each new table re-rendered nearly every model before it: most of the time a
new database spent migrating (about 14 s of 20) went there, not to SQL.
"""

from django.db import migrations


class CreateModel(migrations.CreateModel):
    """Django's ``CreateModel`` that renders only the new model.

    A model created in a migration is new: no rendered model refers to it except by a
    lazy reference, which the app registry resolves when the new model registers (as
    when Django loads the real models). The state (fields, options, relations) is Django's
    own; only the re-rendering of the others is left out. The squashed migrations use it;
    the schema and rows they make are the same (README, "Migrations").
    """

    def state_forwards(self, app_label, state):
        rendered = state.__dict__.pop("apps", None)  # hidden, so add_model renders nothing
        try:
            super().state_forwards(app_label, state)
        finally:
            if rendered is not None:
                state.__dict__["apps"] = rendered
        if rendered is not None:
            state._reload({(app_label, self.name_lower)})
