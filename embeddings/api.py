"""REST API for fine-tuning runs (/api/training-runs/): list, start, read one, cancel.
Holders of embeddings.run_training; bad hyper-parameters are a 400 naming each field, nothing stored."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from embeddings.models import TrainingRun
from embeddings.training.params import TrainingParams, TrainingSetupError
from fashionsite.permissions import TRAINING_PERMISSION, has_page_permission

PARAM_FIELDS = tuple(TrainingParams().as_dict())


class CanRunTraining(permissions.BasePermission):
    message = "Fine-tuning needs the embeddings.run_training permission."

    def has_permission(self, request, view):
        return has_page_permission(request.user, TRAINING_PERMISSION)


class TrainingRunSerializer(serializers.ModelSerializer):
    base_space = serializers.SlugRelatedField(slug_field="name", read_only=True)
    result_space = serializers.SlugRelatedField(slug_field="name", read_only=True)
    split_sizes = serializers.SerializerMethodField()

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "base_space",
            "params",
            "status",
            "cancel_requested",
            "step",
            "total_steps",
            "epoch",
            "split_sizes",
            "loss_curve",
            "epochs",
            "pairs_per_second",
            "device",
            "resumed_from",
            "weights_path",
            "result_space",
            "evaluation",
            "last_error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_split_sizes(self, run) -> dict:
        return {name: len(ids) for name, ids in run.split.items()}


class TrainingRunRequestSerializer(serializers.Serializer):
    base_space = serializers.CharField(help_text="name of the space whose model is fine-tuned")
    params = serializers.DictField(
        required=False,
        default=dict,
        help_text=f"any of {', '.join(PARAM_FIELDS)}; the rest keep their defaults",
    )


class TrainingRunList(generics.ListAPIView):
    """Fine-tuning runs, newest first; POST starts one (queued on the `training` queue)."""

    serializer_class = TrainingRunSerializer
    permission_classes = [CanRunTraining]
    queryset = TrainingRun.objects.select_related("base_space", "result_space")

    @extend_schema(request=TrainingRunRequestSerializer, responses={201: TrainingRunSerializer})
    def post(self, request):
        from embeddings.training.services import resolve_base_space, start_training_run

        body = TrainingRunRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            space = resolve_base_space(body.validated_data["base_space"])
            run = start_training_run(
                base_space=space, params=body.validated_data["params"], user=request.user
            )
        except TrainingSetupError as error:
            raise serializers.ValidationError(error.errors) from error
        return Response(TrainingRunSerializer(run).data, status=status.HTTP_201_CREATED)


class TrainingRunDetail(generics.RetrieveAPIView):
    """One run: progress, curves, validation per epoch, and base vs fine-tuned on the test split."""

    serializer_class = TrainingRunSerializer
    permission_classes = [CanRunTraining]
    queryset = TrainingRun.objects.select_related("base_space", "result_space")


class TrainingRunCancel(APIView):
    """Cancel a run: a queued one at once, a running one at its next step."""

    permission_classes = [CanRunTraining]
    serializer_class = TrainingRunSerializer

    @extend_schema(request=None, responses={200: TrainingRunSerializer})
    def post(self, request, pk: int):
        from embeddings.training.services import cancel_training_run

        run = get_object_or_404(TrainingRun, pk=pk)
        cancel_training_run(run)
        run.refresh_from_db()
        return Response(TrainingRunSerializer(run).data)
