"""API serializers of notifications: output only (the inbox is read and marked read)."""

from rest_framework import serializers

from academy.api import ModelSerializer, NamedChoiceField
from notifications.models import Delivery, Notification


class NotificationSerializer(ModelSerializer):
    """One notification in the caller's inbox."""

    type = NamedChoiceField(choices=Notification.Type.choices, enum_name="NotificationType", read_only=True)
    priority = NamedChoiceField(choices=Notification.Priority.choices, enum_name="NotificationPriority", read_only=True)
    status = NamedChoiceField(choices=Notification.Status.choices, enum_name="NotificationStatus", read_only=True)
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "title",
            "message",
            "type",
            "priority",
            "status",
            "is_read",
            "read_at",
            "sent_at",
            "action_url",
            "metadata",
            "location",
            "created_at",
        ]
        read_only_fields = fields

    def get_is_read(self, notification) -> bool:
        return notification.read_at is not None


class DeliverySerializer(ModelSerializer):
    """One attempt to reach the recipient over e-mail or SMS."""

    channel = NamedChoiceField(choices=Delivery.Channel.choices, enum_name="DeliveryChannel", read_only=True)
    status = NamedChoiceField(choices=Delivery.Status.choices, enum_name="DeliveryStatus", read_only=True)

    class Meta:
        model = Delivery
        fields = ["id", "channel", "address", "status", "attempts", "last_error", "sent_at", "created_at"]
        read_only_fields = fields


class SentNotificationSerializer(NotificationSerializer):
    """What staff see of a notification sent to a family: the message, who it was for
    and how each delivery went."""

    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta(NotificationSerializer.Meta):
        fields = [*NotificationSerializer.Meta.fields, "recipient_name", "recipient_key", "deliveries"]
        read_only_fields = fields

    def to_representation(self, notification):
        data = super().to_representation(notification)
        if notification.is_private:  # a live sign-in link is for its recipient alone
            data.update(message=Notification.PRIVATE_PLACEHOLDER, metadata={}, action_url="")
        return data


class ReadAllSerializer(serializers.Serializer):
    updated = serializers.IntegerField(read_only=True, help_text="How many notifications became read.")


class UnreadCountSerializer(serializers.Serializer):
    unread = serializers.IntegerField(read_only=True)
