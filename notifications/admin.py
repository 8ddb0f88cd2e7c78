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
    readonly_fields = [field.name for field in Notification._meta.fields]
    inlines = [DeliveryInline]

    def has_add_permission(self, request):
        return False
