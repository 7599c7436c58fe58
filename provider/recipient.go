package provider

import "context"

type recipientNameKey struct{}

// WithRecipientName returns a copy of ctx that carries the name of the
// recipient a send made with it goes to ("" = not known). The send path
// sets it; a driver whose API takes the name with every message (Sobot's
// required customer_name) reads it with [RecipientName], the others
// ignore it. It travels in the context because it belongs to this one
// call, like its deadline, and most APIs have no use for it.
func WithRecipientName(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, recipientNameKey{}, name)
}

// RecipientName returns the recipient's name that ctx carries, or "".
func RecipientName(ctx context.Context) string {
	name, _ := ctx.Value(recipientNameKey{}).(string)
	return name
}
