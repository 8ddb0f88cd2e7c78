"""Fewer indexes for a term's publish to write: the result's own student index (the unique
(student, section) and (student, state) indexes lead with it) and the history table's key
indexes (its history is read by result and date). On SQLite, altering the results table
rebuilds it without its triggers: the guard is put back."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from grading.migrations._result_guard import ensure_result_guard


class Migration(migrations.Migration):

    dependencies = [
        ('academy', '0006_job'),
        ('grading', '0004_scale_counts_in_gpa'),
        ('students', '0004_student_medical_permission'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='historicalresult',
            name='frozen_by',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='historicalresult',
            name='last_change',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='grading.resultchange'),
        ),
        migrations.AlterField(
            model_name='historicalresult',
            name='published_by',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='historicalresult',
            name='scale',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='grading.gradescale'),
        ),
        migrations.AlterField(
            model_name='historicalresult',
            name='section',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='academy.section'),
        ),
        migrations.AlterField(
            model_name='historicalresult',
            name='student',
            field=models.ForeignKey(blank=True, db_constraint=False, db_index=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='students.student'),
        ),
        migrations.AlterField(
            model_name='result',
            name='student',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='results', to='students.student'),
        ),
        migrations.RunPython(ensure_result_guard, migrations.RunPython.noop),
    ]
