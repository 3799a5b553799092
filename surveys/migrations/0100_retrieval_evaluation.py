# Written for the weight-comparison report (RetrievalEvaluation only); see docs/report.md.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('embeddings', '0001_initial'),
        ('search', '0103_seed_weight_configs'),
        ('surveys', '0002_researchers_group'),
    ]

    operations = [
        migrations.CreateModel(
            name='RetrievalEvaluation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('task', models.CharField(choices=[('text-to-image', 'Text to image (title → products with the same title)'), ('image-to-image', 'Image to image (same article type and colour)')], max_length=20)),
                ('n_queries', models.PositiveIntegerField()),
                ('n_products', models.PositiveIntegerField(help_text='products with vectors in the space when it ran')),
                ('seed', models.BigIntegerField()),
                ('exact', models.BooleanField(default=False, help_text='exact stage 1 instead of the HNSW index')),
                ('recall_at_1', models.FloatField()),
                ('recall_at_5', models.FloatField()),
                ('recall_at_10', models.FloatField()),
                ('mrr', models.FloatField()),
                ('random_weights', models.BooleanField(help_text="the space's model had randomly initialised weights")),
                ('duration_s', models.FloatField(default=0)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('space', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='embeddings.embeddingspace')),
                ('weight_config', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='search.weightconfig')),
            ],
            options={
                'ordering': ['-created_at', '-id'],
                'indexes': [models.Index(fields=['weight_config', 'task', 'space'], name='surveys_ret_weight__248b90_idx')],
            },
        ),
    ]
