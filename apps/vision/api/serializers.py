"""Input and output shapes of the Vision section of specs/projects-rag-api.txt (multipart forms)."""

from rest_framework import serializers

from apps.inference.ocr import OCR_PREFERENCE
from apps.vision.services import EXTRACTION_TASKS


class VisionInputSerializer(serializers.Serializer):
    file = serializers.FileField(
        required=False, help_text="PDF or image file (PDF, PNG, JPG, JPEG, GIF, WebP, BMP, TIFF)."
    )
    images = serializers.CharField(
        required=False,
        trim_whitespace=False,
        help_text='Base64-encoded images as a JSON array (e.g. ["data:image/png;base64,..."]). Either file or '
        "images must be given.",
    )


class OcrRequestSerializer(VisionInputSerializer):
    model = serializers.CharField(
        default="surya",
        help_text=f"OCR backend: {', '.join(OCR_PREFERENCE)}. The default, surya, runs the best engine installed "
        "when Surya is not; the response's `model` says which ran.",
    )
    languages = serializers.CharField(default="en", help_text="Comma-separated language codes (e.g. en,fr).")
    return_boxes = serializers.BooleanField(default=False, help_text="Return bounding boxes for detected text.")


class ExtractionRequestSerializer(VisionInputSerializer):
    model = serializers.CharField(help_text="Hugging Face model id in the store (Donut or LayoutLMv3).")
    prompts = serializers.CharField(
        default="", allow_blank=True, help_text="Comma-separated prompts (questions) for the vqa task."
    )
    task = serializers.CharField(default="extraction", help_text=f"Task type: {', '.join(EXTRACTION_TASKS)}.")


class OcrBoxSerializer(serializers.Serializer):
    x1 = serializers.FloatField()
    y1 = serializers.FloatField()
    x2 = serializers.FloatField()
    y2 = serializers.FloatField()
    text = serializers.CharField()
    confidence = serializers.FloatField()


class OcrResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Page image index: a PDF gives one item per page, in order.")
    text = serializers.CharField(allow_blank=True)
    confidence = serializers.FloatField()
    boxes = OcrBoxSerializer(many=True, required=False, help_text="Only with return_boxes; pixel coordinates.")


class OcrUsageSerializer(serializers.Serializer):
    images_processed = serializers.IntegerField()


class OcrResponseSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = OcrResultSerializer(many=True)
    model = serializers.CharField(help_text="The engine that ran.")
    usage = OcrUsageSerializer()


class DocumentFieldSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.CharField(allow_blank=True)
    confidence = serializers.FloatField()
    bbox = serializers.ListField(child=serializers.FloatField(), required=False, allow_null=True)


class DocumentResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    confidence = serializers.FloatField()
    text = serializers.CharField(allow_blank=True, allow_null=True, required=False)
    fields = DocumentFieldSerializer(many=True, required=False)
    answer = serializers.CharField(required=False, allow_null=True, help_text="vqa with one prompt.")
    classification = serializers.CharField(required=False, allow_null=True)
    classification_scores = serializers.DictField(child=serializers.FloatField(), required=False, allow_null=True)


class DocumentUsageSerializer(serializers.Serializer):
    documents_processed = serializers.IntegerField()


class DocumentResponseSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = DocumentResultSerializer(many=True)
    model = serializers.CharField()
    task = serializers.CharField()
    usage = DocumentUsageSerializer()
