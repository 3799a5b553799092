"""REST API of search: run searches, browse products, read/edit weight configs, read stored runs.

Thin: validation of the search itself lives in search/services.py and search/selectors.py; errors
come back in fashionsite/api.py's body shape {"error": {"status", "code", "message", "fields"}}.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ErrorDetail, NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from catalogue.models import ATTRIBUTE_FIELDS, Product
from fashionsite.api import JSONParser
from fashionsite.permissions import WeightConfigAccess, is_researcher, may_see_weight_configs
from search import selectors, services
from search.errors import SearchError
from search.models import K1_MAX, K_MAX, SearchRun, WeightConfig


class SearchAPIError(APIException):
    """A SearchError as a DRF exception (status and code from the error, fields kept)."""

    def __init__(self, error: SearchError):
        self.status_code = error.status
        detail = {"detail": ErrorDetail(error.message, code=error.code)}
        fields = dict(error.fields)
        if getattr(error, "progress", None):
            fields["progress"] = error.progress
        detail.update(fields)
        self.detail = detail


# --------------------------------------------------------------------------- serializers


class ProductSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = ["catalog_id", "title", *ATTRIBUTE_FIELDS, "year", "image_url", "url"]

    def get_image_url(self, product) -> str | None:
        return product.image.url if product.image else None

    def get_url(self, product) -> str:
        return f"/products/{product.catalog_id}/"


class WeightConfigSerializer(serializers.ModelSerializer):
    superseded_by = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = WeightConfig
        fields = [
            "id",
            "name",
            "version",
            "is_current",
            "superseded_by",
            *WeightConfig.WEIGHT_FIELDS,
            "description",
            "created_at",
        ]
        read_only_fields = ["id", "version", "is_current", "superseded_by", "created_at"]
        # Uniqueness is per (name, version) and enforced by the service, not by DRF validators.
        validators = []

    def _values(self, validated) -> dict:
        return {key: value for key, value in validated.items() if key != "name"}

    def create(self, validated_data):
        try:
            return services.create_weight_config(name=validated_data["name"], **self._values(validated_data))
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_django_errors(exc)) from None

    def update(self, instance, validated_data):
        try:
            # The name goes along: the service refuses a rename instead of ignoring it.
            return services.update_weight_config(config=instance, **validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(_django_errors(exc)) from None


def _django_errors(exc: DjangoValidationError):
    # Field errors keep their field; others become a plain list, so the body's message reads well.
    return exc.message_dict if hasattr(exc, "error_dict") else exc.messages


class SearchResultSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    catalog_id = serializers.CharField()
    title = serializers.CharField()
    stage1_score = serializers.FloatField()
    stage1_rank = serializers.IntegerField()
    stage2_score = serializers.FloatField()
    product = ProductSerializer(allow_null=True)


class ConfigRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()


class SearchRunSerializer(serializers.ModelSerializer):
    results = SearchResultSerializer(many=True, read_only=True)
    config = serializers.SerializerMethodField()
    space = serializers.CharField(source="space.name")
    query_image_url = serializers.SerializerMethodField()
    similar_to = serializers.CharField(source="similar_to.catalog_id", allow_null=True, default=None)
    space_random_weights = serializers.BooleanField(
        source="space.random_weights",
        read_only=True,
        help_text="true while the embedding model has random (untrained) weights: results are not meaningful",
    )
    message = serializers.SerializerMethodField()

    class Meta:
        model = SearchRun
        fields = [
            "uuid",
            "created_at",
            "query_text",
            "query_image_url",
            "similar_to",
            "space",
            "space_random_weights",
            "config",
            "exact",
            "ef_search",
            "k1",
            "filters",
            "k",
            "page",
            "matched_count",
            "candidate_count",
            "encode_ms",
            "stage1_ms",
            "stage2_ms",
            "total_ms",
            "source",
            "message",
            "results",
        ]

    @extend_schema_field(ConfigRefSerializer(allow_null=True))
    def get_config(self, run) -> dict | None:
        """Staff only: to anyone else a run does not say which configuration produced it (blinding)."""
        request = self.context.get("request")
        if request is None or not may_see_weight_configs(request.user):
            return None
        return {"id": run.config_id, "name": run.config.name, "version": run.config.version}

    def get_query_image_url(self, run) -> str | None:
        return run.query_image.file.url if run.query_image_id else None

    def get_message(self, run) -> str:
        return selectors.run_message(run)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": True,
        "example": {"gender": "Women", "base_colour": ["Blue", "Red"], "year_min": 2012},
    }
)
class BoundedJSONField(serializers.JSONField):
    """A JSON field whose too-deep nesting (a form field's JSON string) is invalid, not a server error."""

    def to_internal_value(self, data):
        try:
            return super().to_internal_value(data)
        except RecursionError:
            self.fail("invalid")


class SearchRequestSerializer(serializers.Serializer):
    text = serializers.CharField(required=False, allow_blank=True, max_length=services.MAX_QUERY_TEXT_CHARS)
    image = serializers.FileField(required=False, help_text="multipart only: a JPEG, PNG or WebP query image")
    filters = BoundedJSONField(
        required=False,
        help_text='e.g. {"gender": "Women", "base_colour": ["Blue", "Red"], "year_min": 2012}; '
        "in multipart, a JSON string",
    )
    k = serializers.IntegerField(required=False, min_value=1, max_value=K_MAX)
    page = serializers.IntegerField(required=False, min_value=1, max_value=K1_MAX, default=1)
    config = serializers.CharField(
        required=False, help_text="staff only: a config id or name (current version)"
    )
    exact = serializers.BooleanField(required=False, allow_null=True, default=None, help_text="staff only")

    def validate_filters(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except (ValueError, RecursionError):
                raise serializers.ValidationError("filters must be a JSON object.") from None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("filters must be a JSON object.")
        return value


def resolve_config(value: str | None, user) -> WeightConfig | None:
    """A staff-chosen config (id or name); None means the default. Others may not choose."""
    if value in (None, ""):
        return None
    if not (user and user.is_staff):
        raise PermissionDenied("Only staff can choose a weight configuration.")
    config = None
    if str(value).isdigit():
        config = WeightConfig.objects.filter(pk=int(value)).first()
    if config is None:
        config = WeightConfig.objects.filter(name=str(value), is_current=True).first()
    if config is None:
        names = ", ".join(WeightConfig.objects.filter(is_current=True).values_list("name", flat=True))
        raise SearchAPIError(
            SearchError(
                f"Unknown weight configuration {value!r}; known: {names}.", fields={"config": ["unknown"]}
            )
        )
    if bad := config.weights_out_of_bounds():
        raise SearchAPIError(
            SearchError(
                f"Weight configuration {config} has weights out of range ({', '.join(bad)}); edit it first.",
                fields={"config": ["weights out of range"]},
            )
        )
    return config


def _staff_exact(value, user):
    if value is None:
        return None
    if not (user and user.is_staff):
        raise PermissionDenied("Only staff can choose exact mode.")
    return bool(value)


def _run(**kwargs) -> SearchRun:
    try:
        return services.run_search(**kwargs)
    except SearchError as error:
        raise SearchAPIError(error) from None


def _run_response(run: SearchRun, request) -> Response:
    # run_search's run carries its results and their products: nothing is read back.
    return Response(SearchRunSerializer(run, context={"request": request}).data)


# --------------------------------------------------------------------------- views


class SearchView(APIView):
    """Run a two-stage search (text, image or both) and return the stored run with its results."""

    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={"application/json": SearchRequestSerializer, "multipart/form-data": SearchRequestSerializer},
        responses={200: SearchRunSerializer},
        examples=[
            OpenApiExample(
                "Text with filters",
                value={
                    "text": "red summer dress",
                    "filters": {"gender": "Women", "base_colour": ["Red"]},
                    "k": 12,
                },
                request_only=True,
                media_type="application/json",
            ),
            OpenApiExample(
                "Text only, second page",
                value={"text": "black leather boots", "k": 24, "page": 2},
                request_only=True,
                media_type="application/json",
            ),
            OpenApiExample(
                "Filters by year",
                value={"text": "denim jacket", "filters": {"article_type": ["Jackets"], "year_min": 2012}},
                request_only=True,
                media_type="application/json",
            ),
        ],
    )
    def post(self, request):
        serializer = SearchRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = _run(
            text=data.get("text") or None,
            image=data.get("image"),
            filters=data.get("filters") or {},
            k=data.get("k"),
            page=data.get("page") or 1,
            config=resolve_config(data.get("config"), request.user),
            exact=_staff_exact(data.get("exact"), request.user),
            source=SearchRun.Source.API,
            user=request.user,
        )
        return _run_response(run, request)


_FILTER_PARAMETERS = [
    *(OpenApiParameter(field, OpenApiTypes.STR, many=True, required=False) for field in ATTRIBUTE_FIELDS),
    OpenApiParameter("year_min", OpenApiTypes.INT, required=False),
    OpenApiParameter("year_max", OpenApiTypes.INT, required=False),
]


_BOOLEAN_WORDS = {"true": True, "1": True, "false": False, "0": False}
# Query parameters of product listings and "similar" that are not filters.
_NOT_FILTERS = {"page", "k", "q", "page_size", "format", "config", "exact"}


def filters_from_query(params) -> dict:
    """Filter values from query parameters (repeated parameters give several values)."""
    raw = {}
    for key in params:
        values = [value for value in params.getlist(key) if value != ""]
        if values and key not in _NOT_FILTERS:
            raw[key] = values if key in ATTRIBUTE_FIELDS else values[-1]
    try:
        return selectors.validate_filters(raw)
    except SearchError as error:
        raise SearchAPIError(error) from None


class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The catalogue: list (filter with attribute parameters), detail, and similar products."""

    serializer_class = ProductSerializer
    lookup_field = "catalog_id"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        if self.action == "list":
            return selectors.filter_products(filters_from_query(self.request.query_params)).order_by("id")
        return Product.objects.all()

    @extend_schema(parameters=_FILTER_PARAMETERS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter("k", OpenApiTypes.INT, required=False),
            OpenApiParameter("page", OpenApiTypes.INT, required=False),
            OpenApiParameter(
                "config", OpenApiTypes.STR, required=False, description="staff only: a config id or name"
            ),
            OpenApiParameter("exact", OpenApiTypes.BOOL, required=False, description="staff only"),
            *_FILTER_PARAMETERS,
        ],
        responses={200: SearchRunSerializer},
    )
    @action(detail=True, methods=["get"])
    def similar(self, request, catalog_id=None):
        """ "More like this": the product's own vectors as the query; the product itself is left out."""
        product = self.get_object()
        params = request.query_params
        exact = params.get("exact")
        if exact not in (None, "") and exact.lower() not in _BOOLEAN_WORDS:
            raise SearchAPIError(
                SearchError("exact must be true or false.", fields={"exact": ["not a boolean"]})
            )
        run = _run(
            similar_to=product,
            filters=filters_from_query(params),
            k=params.get("k") or None,
            page=params.get("page") or 1,
            config=resolve_config(params.get("config"), request.user),
            exact=_staff_exact(_BOOLEAN_WORDS.get((exact or "").lower()), request.user),
            source=SearchRun.Source.API,
            user=request.user,
        )
        return _run_response(run, request)


class WeightConfigViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Weight configurations: staff read; create/edit need search.add_/change_weightconfig (a used
    config gets a new version). Hidden from everyone else: surveys compare them blind."""

    serializer_class = WeightConfigSerializer
    permission_classes = [WeightConfigAccess]
    queryset = WeightConfig.objects.order_by("name", "-version")

    def permission_denied(self, request, message=None, code=None):
        # Anonymous callers get the same 403 and reason as everyone else without access.
        raise PermissionDenied(message)

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=kwargs.get("partial", False))
        serializer.is_valid(raise_exception=True)
        saved = serializer.save()
        return Response(self.get_serializer(saved).data)


class SearchRunDetail(generics.RetrieveAPIView):
    """A stored search: its query, configuration version, timings and results as shown."""

    serializer_class = SearchRunSerializer
    lookup_field = "uuid"

    def get_object(self):
        run = selectors.run_with_results(self.kwargs["uuid"])
        if run is None:
            get_object_or_404(SearchRun, uuid=self.kwargs["uuid"])
        if (run.source == SearchRun.Source.SURVEY or run.pinned) and not is_researcher(self.request.user):
            # A survey's runs would tell its arms apart: researchers only, and nobody else learns they exist.
            raise NotFound("No search run with this id.")
        return run
