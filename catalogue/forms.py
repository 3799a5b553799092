"""Forms of the catalogue admin pages."""

from django import forms
from django.conf import settings

from catalogue import services
from catalogue.models import ATTRIBUTE_FIELDS, Product
from catalogue.selectors import attribute_values
from fashionsite.uploads import too_large


class ProductForm(forms.ModelForm):
    image_file = forms.FileField(
        label="Image",
        required=False,
        help_text="JPEG, PNG or WebP. Replacing the image re-embeds the product in every space.",
    )

    class Meta:
        model = Product
        fields = ["catalog_id", "title", *ATTRIBUTE_FIELDS, "year"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Suggest the values the catalogue already uses, so a typo does not make a new filter value.
        self.suggestions = attribute_values()
        for name in ATTRIBUTE_FIELDS:
            self.fields[name].widget.attrs["list"] = f"{name}-values"
        self.fields["catalog_id"].help_text = (
            "At most 64 letters, digits, '-', '_' or '.' (no spaces or '/'): it becomes part of the product's "
            "address and image file name, and cannot change after saving."
        )
        if self.instance.pk:
            # The natural key ties a product to its catalogue rows, imports and past searches.
            self.fields["catalog_id"].disabled = True
        else:
            self.fields["catalog_id"].validators.append(services.validate_catalog_id)
            self.fields["image_file"].required = True

    def clean_image_file(self):
        upload = self.cleaned_data.get("image_file")
        if not upload:
            return None
        # Django streams a large file to disk; refuse it by size before reading it into memory.
        limit = settings.FASHIONSITE_MAX_ZIP_ENTRY_BYTES
        if upload.size > limit:
            refusal = too_large(upload.size, max_bytes=limit, name=upload.name)
            raise forms.ValidationError(
                f"{refusal} That is the limit for one catalogue image "
                "(FASHIONSITE_MAX_ZIP_ENTRY_BYTES, as for an image inside a zip)."
            )
        data = upload.read()
        try:
            decoded = services.check_image(data, name=upload.name)
        except services.ImageRefused as exc:
            raise forms.ValidationError(str(exc)) from None
        return services.ImageUpload(data=data, decoded=decoded)

    def product_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class UploadForm(forms.Form):
    file = forms.FileField(label="Catalogue zip", help_text="styles.csv (or a simple CSV) and images/")
    all_or_nothing = forms.BooleanField(
        label="All or nothing: import nothing if any row is rejected", required=False
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".zip"):
            raise forms.ValidationError(
                f"{upload.name} is not a .zip file; upload a zip with a CSV and images."
            )
        return upload
