from django.contrib import admin

from notifications.models import Delivery, Notification


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    can_delete = False
    readonly_fields = ("channel", "address", "status", "attempts", "last_error", "sent_at", "dedupe_key")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("title", "recipient_name", "recipient", "kind", "type", "priority", "status", "created_at")
    list_filter = ("status", "type", "priority", "kind", "location")
    search_fields = ("title", "recipient_name", "recipient__username", "recipient_key")
    list_select_related = ("recipient", "location")
    # message and metadata through methods that hide a private message's sign-in link
    exclude = ("message", "metadata", "action_url")
    readonly_fields = [
        {"message": "message_shown", "metadata": "metadata_shown", "action_url": "action_url_shown"}.get(
            field.name, field.name
        )
        for field in Notification._meta.fields
    ]

    @admin.display(description="message")
    def message_shown(self, notification):
        return Notification.PRIVATE_PLACEHOLDER if notification.is_private else notification.message

    @admin.display(description="action url")
    def action_url_shown(self, notification):
        return "" if notification.is_private else notification.action_url

    @admin.display(description="metadata")
    def metadata_shown(self, notification):
        return {} if notification.is_private else notification.metadata

    inlines = [DeliveryInline]

    def has_add_permission(self, request):
        return False
